-- Every check a run evaluated, as stored (samples hold row references only). Parameters: $run_id.
select suite, expectation, column_name, severity, outcome, element_count, unexpected_count, unexpected_sample, details
from audit.dq_result
where run_id = $run_id
