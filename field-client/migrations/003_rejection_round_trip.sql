-- What the centre says of households and refused work beyond the assignment's list:
ALTER TABLE households ADD COLUMN moved_to TEXT;      -- who holds it now, once reassigned away
ALTER TABLE households ADD COLUMN carried_from TEXT;  -- whose accepted work it carries, when another's
ALTER TABLE events ADD COLUMN resolution TEXT;        -- a supervisor's decision on a refused event
ALTER TABLE events ADD COLUMN resolution_note TEXT;
