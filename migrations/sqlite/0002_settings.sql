-- Values a deployment makes once and every node shares (the VAPID key pair
-- of Web Push). The first node to start inserts; the others read its value.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
