-- Record the classification settings state.classified_visit was computed with. Parameters: $fingerprint, $run_id.
insert into state.classification (fingerprint, run_id) values ($fingerprint, $run_id)
