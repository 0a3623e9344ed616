-- A task's request keeps its text as sent: json, not jsonb. jsonb reorders object keys (shorter keys
-- first), and an upsert without a template renders a dict's fields "in order": {"title", "body"} was
-- embedded as body then title. The request is only stored and read back whole, never queried inside.
ALTER TABLE tasks ALTER COLUMN request TYPE json USING request::json;
