/** The React bindings, rendered on the server (react-dom/server): context, connection state, first snapshots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { createClient, type WebSocketConstructor } from '../src/index.ts';
import { RealtimeProvider, useConnectionState, usePost, useUnreadNotifications } from '../src/react.ts';

class NeverOpens {
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  send() {}
  close() {}
}

test('hooks read the client from the provider and render its current state', () => {
  const client = createClient({ url: 'ws://127.0.0.1:9/ws', getToken: () => 'x.e30.y', WebSocket: NeverOpens as unknown as WebSocketConstructor, autoConnect: false });
  function Status() {
    const state = useConnectionState();
    const { status } = usePost('demo-post-priced');
    const { count } = useUnreadNotifications();
    return createElement('p', null, `${state}/${status}/${count}`);
  }
  const html = renderToString(createElement(RealtimeProvider, { client }, createElement(Status)));
  assert.equal(html, '<p>closed/loading/0</p>');
  client.connect();
  assert.equal(renderToString(createElement(RealtimeProvider, { client }, createElement(Status))), '<p>connecting/loading/0</p>');
  client.destroy();
});

test('a hook outside a provider says what is missing', () => {
  function Orphan() {
    useConnectionState();
    return null;
  }
  assert.throws(() => renderToString(createElement(Orphan)), /RealtimeProvider/);
});
