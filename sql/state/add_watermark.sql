-- Record one incremental source's watermark. Parameters: $source, $watermark, $kept_rows, $settings, $run_id.
insert into state.watermark (source, watermark, kept_rows, settings, run_id) values ($source, $watermark, $kept_rows, $settings, $run_id)
