-- The reps furthest from their target mix in one period (marts.visit_mix, level rep), with their
-- name and their team as of the period's first day (marts.dim_rep's history). Reps without a
-- classified visit in the period are left out (their shares are NULL).
-- Parameters: $grain, $period_start, $limit. Grain: rep. Order: mix_distance, largest first.
with
mix as (
    select *
    from marts.visit_mix
    where period_grain = $grain and period_start = $period_start and level = 'rep' and visits_total > 0
),
reps as (
    select rep_id, coalesce(valid_from, date '0001-01-01') as valid_from, valid_to, rep_name, team from marts.dim_rep
),
named as (
    select mix.*, reps.rep_name, reps.team
    from mix
    left join reps
        on reps.rep_id = mix.level_key
        and reps.valid_from <= mix.period_start
        and (reps.valid_to is null or mix.period_start < reps.valid_to)
    qualify row_number() over (partition by mix.level_key order by reps.valid_from desc nulls last) = 1
),
final as (
    select
        level_key as rep_id,
        rep_name,
        team,
        visits_total,
        new_prospect_share,
        hot_prospect_share,
        existing_customer_share,
        target_new_prospect_share,
        target_hot_prospect_share,
        target_existing_customer_share,
        mix_distance
    from named
)
select * from final order by mix_distance desc nulls last, visits_total desc, rep_id limit $limit
