-- Copy the audit history of the live warehouse (attached read-only as `previous`) into a newly
-- built one. By name, so columns added to the audit tables later come through as NULL.
insert into audit.pipeline_run by name select * from previous.audit.pipeline_run;
insert into audit.source_file by name select * from previous.audit.source_file;
insert into audit.dq_result by name select * from previous.audit.dq_result;
insert into audit.quarantine by name select * from previous.audit.quarantine;
