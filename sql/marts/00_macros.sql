-- Macros the mart files share. Temporary: they live in the build's session only, never in the file
-- (so no reader of the warehouse, old or new, ever sees them).

-- mix_distance: half the sum over the three visit types of |share - target share|, in 0..1: the
-- share of visits that would have to be of another type to match the target (0 = on target).
-- NULL when a share or a target is NULL (a period without classified visits).
create temp macro mix_distance(new_share, hot_share, existing_share, new_target, hot_target, existing_target) as
    0.5 * (abs(new_share - new_target) + abs(hot_share - hot_target) + abs(existing_share - existing_target));
