/**
 * The demo page: Demo Creator's posts as the picked demo user may see them, unlocked in place when a purchase or a
 * subscription lands (in every tab of that user), a notification bell that counts up live, and a connection
 * indicator. Everything live comes through the SDK; the `/demo/*` routes stand in for the platform's own backend.
 *
 * Test hooks (a contract): posts `[data-post-id][data-access="locked|unlocked"]` with `[data-content]`,
 * buttons `[data-action="buy"]` / `[data-action="subscribe"][data-plan]`, the bell `[data-unread]`,
 * the indicator `[data-connection="connected|reconnecting|offline"]`.
 */
import { createClient, type ConnectionState, type PostView } from '@fonana-realtime/client';

const CREATOR = 'demo-creator';
const userId = new URLSearchParams(location.search).get('as') ?? 'demo-fan-none';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const postsEl = $<HTMLUListElement>('#posts');
const statusEl = $('#status');
const logEl = $<HTMLOListElement>('#log');
const bell = $<HTMLButtonElement>('#bell');
const notificationsEl = $<HTMLOListElement>('#notifications');
const connectionEl = $('#connection');

/** Builds an element: `h('p', { class: 'x' }, 'text', child)`. Text is always set as text, never as HTML. */
function h(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

async function post<T>(path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(json?.error?.message ?? `HTTP ${res.status}`);
  return json as T;
}

// The platform's login, played by a demo-only route: a token for a seeded demo user.
let token = '';
const getToken = async () => (token = (await post<{ token: string }>('/demo/token', { userId })).token);

const client = createClient({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, getToken });

// ---- user picker -------------------------------------------------------------------------------
async function fillPicker(): Promise<void> {
  const select = $<HTMLSelectElement>('#as');
  const { users } = (await (await fetch('/demo/users')).json()) as { users: { id: string; name: string; isCreator: boolean }[] };
  for (const u of users) select.append(new Option(`${u.name} (${u.id})`, u.id, false, u.id === userId));
  select.addEventListener('change', () => {
    location.search = `?as=${encodeURIComponent(select.value)}`;
  });
}
void fillPicker();

// ---- connection indicator ----------------------------------------------------------------------
const INDICATOR: Record<ConnectionState, ['connected' | 'reconnecting' | 'offline', string]> = {
  connecting: ['reconnecting', 'connecting…'],
  connected: ['connected', 'connected'],
  reconnecting: ['reconnecting', 'reconnecting…'],
  offline: ['offline', 'offline'],
  closed: ['offline', 'disconnected'],
};
function showConnection(state: ConnectionState): void {
  const [value, label] = INDICATOR[state];
  connectionEl.dataset.connection = value;
  connectionEl.textContent = label;
}
showConnection(client.state);
client.on('state', ({ state }) => showConnection(state));

// ---- posts -------------------------------------------------------------------------------------
const creator = client.watchCreator(CREATOR);

function lockText(p: PostView): string {
  const lock = p.lock;
  if (!lock) return 'Locked';
  if (lock.reason === 'purchase') return `Locked: buy it for ${lock.price} ${lock.currency}`;
  if (lock.reason === 'tier') return `Locked: for ${lock.requiredTier} subscribers${lock.price ? `, or buy it for ${lock.price} ${lock.currency}` : ''}`;
  return 'Locked: for subscribers';
}

function renderPost(p: PostView): HTMLElement {
  const unlocked = p.access.hasAccess;
  const article = h(
    'article',
    { 'data-post-id': p.id, 'data-access': unlocked ? 'unlocked' : 'locked', 'aria-label': p.title },
    h('h3', {}, p.title, h('span', { class: `badge ${unlocked ? 'unlocked' : ''}` }, unlocked ? 'unlocked' : 'locked')),
  );
  if (unlocked) {
    article.append(h('p', { 'data-content': '' }, p.content ?? ''));
    if (p.mediaUrl) article.append(h('p', { class: 'muted' }, `media: ${p.mediaUrl}`));
    return h('li', {}, article);
  }
  article.append(h('p', { class: 'teaser' }, lockText(p)));
  const actions = h('p', {});
  if (p.lock?.price) actions.append(h('button', { type: 'button', 'data-action': 'buy', 'data-post': p.id }, `Buy for ${p.lock.price} ${p.lock.currency}`));
  if (p.lock?.reason === 'tier' || p.lock?.reason === 'subscription') {
    const plan = (p.lock.requiredTier ?? 'basic').toLowerCase();
    actions.append(h('button', { type: 'button', 'data-action': 'subscribe', 'data-plan': plan, 'data-creator': p.creatorId }, `Subscribe (${plan})`));
  }
  if (actions.childNodes.length) article.append(actions);
  return h('li', {}, article);
}

function renderPosts(): void {
  if (creator.status === 'error') statusEl.textContent = `Could not load the posts: ${creator.error?.message}`;
  if (creator.status !== 'ready') return;
  postsEl.setAttribute('aria-busy', 'false');
  // Keep the focused button's post focused across the re-render (keyboard users).
  const focused = (document.activeElement as HTMLElement | null)?.closest('[data-post-id]')?.getAttribute('data-post-id');
  postsEl.replaceChildren(...creator.list.map(renderPost));
  if (focused) postsEl.querySelector<HTMLElement>(`[data-post-id="${CSS.escape(focused)}"] button, [data-post-id="${CSS.escape(focused)}"]`)?.focus();
}
creator.on('change', renderPosts);

// Buy / Subscribe / Cancel go through the demo's payment route, which signs a confirmation for the gateway.
document.addEventListener('click', async (event) => {
  const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
  if (!button) return;
  const action = button.dataset.action;
  button.disabled = true;
  statusEl.textContent = 'Paying…';
  try {
    if (action === 'buy') await post('/demo/buy', { postId: button.dataset.post }, token || (await getToken()));
    else if (action === 'subscribe') await post('/demo/buy', { creatorId: button.dataset.creator, plan: button.dataset.plan }, token || (await getToken()));
    else if (action === 'cancel') await post('/demo/cancel', { creatorId: button.dataset.creator }, token || (await getToken()));
    // No refresh here: the page changes when the gateway's event arrives, like every other open tab.
    statusEl.textContent = action === 'cancel' ? 'Subscription cancelled.' : 'Payment confirmed.';
  } catch (err) {
    statusEl.textContent = `Refused: ${(err as Error).message}`;
  } finally {
    button.disabled = false;
  }
});

// ---- notification bell -------------------------------------------------------------------------
const unread = new Map<string, string>(); // id → title
function renderBell(count: number): void {
  bell.dataset.unread = String(count);
  $('#unread-count').textContent = String(count);
  notificationsEl.replaceChildren(...[...unread.values()].slice(-10).reverse().map((title) => h('li', {}, title)));
}
let unreadCount = 0;
client.subscribe(`notifications:${userId}`);
client.on('unread', ({ notifications, count }) => {
  for (const n of notifications) unread.set(n.id, `${n.title}: ${n.message}`);
  unreadCount = count;
  renderBell(unreadCount);
});
client.onEvent('notification', ({ notification: n }) => {
  if (n.isRead || unread.has(n.id)) return;
  unread.set(n.id, `${n.title}: ${n.message}`);
  renderBell(++unreadCount);
});
bell.addEventListener('click', () => {
  const open = notificationsEl.hidden;
  notificationsEl.hidden = !open;
  bell.setAttribute('aria-expanded', String(open));
});

// ---- event log ---------------------------------------------------------------------------------
function log(text: string): void {
  logEl.prepend(h('li', {}, `${new Date().toLocaleTimeString()} ${text}`));
  while (logEl.children.length > 30) logEl.lastElementChild!.remove();
}
client.on('event', (frame) => log(`${frame.type} (${frame.channel} #${frame.offset})`));
client.on('connected', () => log(`connected as ${userId}`));
client.on('disconnected', ({ code }) => log(`disconnected (${code})`));
client.on('recovery', ({ channel }) => log(`missed events of ${channel} could not be replayed: reloaded`));
client.on('error', ({ code, message }) => log(`error ${code}: ${message}`));
