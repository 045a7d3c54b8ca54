// A Socket.IO 4 server with rooms, a peer of chatbench: a client joins the
// room named in its handshake query (?room=N); every `msg` event goes to the
// rest of the room. With REDIS_URL, @socket.io/redis-adapter carries rooms
// across nodes. No persistence, no acks.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.env.PORT);
const io = new Server({ transports: ['websocket'], perMessageDeflate: false, serveClient: false });

async function main() {
  if (process.env.REDIS_URL) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  io.on('connection', (socket) => {
    const room = String(socket.handshake.query.room || '0');
    socket.join(room);
    socket.on('msg', (data) => socket.to(room).emit('msg', data));
  });
  // Loopback only, like the other servers (a wildcard listen can collide
  // with the bench's own connections from 127.0.0.2–4).
  const server = http.createServer();
  io.attach(server);
  server.listen(port, '127.0.0.1', () => console.log(`socket.io peer on ${port}`));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
