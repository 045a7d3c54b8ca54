// A Node `ws` broadcast server, a peer of chatbench: a client joins the
// room named in its URL (/?room=N); every text frame it sends goes to every
// other client of that room, as is. No persistence, no acks.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.env.PORT);
const rooms = new Map();
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const room = new URL(req.url, 'http://peer').searchParams.get('room') || '0';
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const other of members) {
      if (other !== ws && other.readyState === 1) other.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => members.delete(ws));
});
wss.on('listening', () => console.log(`ws peer on ${port}`));
