-- A connection's endpoints (the list filter).
CREATE INDEX endpoints_connection ON endpoints (environment_id, connection_identifier);
