-- Visit rows in scope of the last successful run that read the visits whole (for the volume check;
-- a run that read them from their watermark extracted only what changed: its visits source has a
-- rows_before_watermark outcome). A run where only another source was incremental read the visits
-- whole and counts. Parameters: none.
select r.rows_in_scope
from audit.pipeline_run as r
where r.status = 'succeeded'
  and (coalesce(r.run_mode, 'full') = 'full' or not exists (
      select 1 from audit.dq_result as d
      where d.run_id = r.run_id and d.suite = 'visits' and d.expectation = 'rows_before_watermark'))
order by r.finished_at desc
limit 1
