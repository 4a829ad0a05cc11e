// Open a WebSocket, show what the server says, and say goodbye to the user.
function session(path, protocols) {
  const log = document.getElementById("log");
  const url = new URL(path, location.href);
  url.protocol = url.protocol.replace("http", "ws");
  const ws = new WebSocket(url, protocols);
  ws.onmessage = (event) => {
    log.textContent += `< ${event.data}\n`;
    ws.send(`Goodbye ${event.data.slice(6, -1)}.`);
  };
  ws.onclose = (event) => {
    log.textContent += `closed: ${event.code} ${event.reason}\n`;
  };
  return ws;
}
