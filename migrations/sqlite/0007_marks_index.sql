-- Ticks in big rooms (design §10): the two lowest marks of a room and how
-- many members read past a seq come from these indexes, without reading
-- every member's row.
CREATE INDEX members_by_delivered ON members(room_id, delivered_seq);
CREATE INDEX members_by_read ON members(room_id, read_seq);
