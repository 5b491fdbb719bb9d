-- Novu's contextKeys filter: the context's type:id keys, sorted, one per line.
ALTER TABLE connections ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
UPDATE connections SET context_keys = COALESCE((SELECT group_concat(k, char(10)) FROM
    (SELECT key || ':' || json_extract(value, '$.id') AS k FROM json_each(connections.public_json, '$.context') ORDER BY k)), '');
UPDATE endpoints SET context_keys = COALESCE((SELECT group_concat(k, char(10)) FROM
    (SELECT key || ':' || json_extract(value, '$.id') AS k FROM json_each(endpoints.public_json, '$.context') ORDER BY k)), '');
-- Lists walk environments newest first.
CREATE INDEX connections_created ON connections (environment_id, created_at);
CREATE INDEX endpoints_created ON endpoints (environment_id, created_at);
