-- The kept watermark of every incremental source and the hash of the settings its rows were read
-- with (NULL for a state kept before the settings were recorded: read through to_json, so a missing
-- column is NULL rather than an error). Parameters: none. Grain: source.
select source, watermark, json_extract_string(to_json(w), '$.settings') as settings
from state.watermark as w
