-- The kept day/month order of every text date column of the incremental sources. Parameters: none.
-- Grain: source, column.
select source, column_name, date_order, is_assumed
from state.date_order
