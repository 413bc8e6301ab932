-- marts.dim_rep: one row per rep version — per rep, or per rep and valid_from when the reps input
-- carries team history (slowly changing dimension, type 2: the team and region hold from valid_from,
-- inclusive, to valid_to, exclusive; NULL = since always / until further notice). Reps seen only
-- in visits, deals or as an account's owner get one row without a name. is_current: the rep's
-- latest version, still open (valid_to NULL): a rep who left has none. Key: (rep_id, valid_from).
create table marts.dim_rep as
with
listed as (
    select rep_id, valid_from, valid_to, rep_name, team, region from staging.reps where rep_id is not null
),
seen_elsewhere as (
    select rep_id from visit_reps_frame  -- ids the visits use beyond the reps input
    union select rep_id from staging.deals
    union select rep_id from staging.accounts  -- account owners (coverage per rep)
),
unlisted as (
    select rep_id, null::date as valid_from, null::date as valid_to, null::varchar as rep_name,
           null::varchar as team, null::varchar as region
    from seen_elsewhere
    where rep_id is not null and rep_id not in (select rep_id from listed)
),
final as (
    select *, row_number() over (partition by rep_id order by valid_from desc nulls last) = 1 and valid_to is null as is_current
    from (select * from listed union all select * from unlisted)
)
select rep_id, valid_from, valid_to, rep_name, team, region, is_current from final order by rep_id, valid_from;
