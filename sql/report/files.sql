-- The files (or database tables) a run read. Parameters: $run_id.
select source, file, size_bytes, sha256, encoding
from audit.source_file
where run_id = $run_id
order by source, file
