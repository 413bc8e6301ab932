-- Record the day/month order of one text date column of an incremental source.
-- Parameters: $source, $column_name, $date_order, $is_assumed, $run_id.
insert into state.date_order (source, column_name, date_order, is_assumed, run_id)
values ($source, $column_name, $date_order, $is_assumed, $run_id)
