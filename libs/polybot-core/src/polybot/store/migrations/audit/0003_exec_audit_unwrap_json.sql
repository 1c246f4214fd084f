-- Rows written before the fix held each JSON value twice encoded (a jsonb string whose text is the JSON):
-- unwrap them, so that plan->>'plan_id' and friends read every row alike.
UPDATE exec_audit SET plan = (plan #>> '{}')::jsonb WHERE jsonb_typeof(plan) = 'string';
UPDATE exec_audit SET intents = (intents #>> '{}')::jsonb WHERE jsonb_typeof(intents) = 'string';
UPDATE exec_audit SET acks = (acks #>> '{}')::jsonb WHERE jsonb_typeof(acks) = 'string';
UPDATE exec_audit SET errors = (errors #>> '{}')::jsonb WHERE jsonb_typeof(errors) = 'string';
