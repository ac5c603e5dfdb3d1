/**
 * What can be checked of the deployment kit without running it: no Docker engine is available here, so the Dockerfile
 * and docker-compose.yml are linted (stages, user, healthcheck, files copied; services, dependencies, settings);
 * the Grafana dashboard and docs/operations.md must cover every metric, setting and code there is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { Codes } from '@fonana-realtime/protocol';
import { ENV_NAMES, loadConfig } from '../src/config/config.ts';
import { Metrics } from '../src/metrics.ts';

const ROOT = new URL('../../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, ROOT), 'utf8');

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

test('Dockerfile: multi-stage, non-root, HEALTHCHECK on /readyz, and every file it copies exists', async () => {
  const steps = instructions(await read('deploy/Dockerfile'));
  const stages = steps.filter((s) => s.op === 'FROM');
  assert.ok(stages.length >= 2, 'at least two stages');
  assert.ok(stages.every((s) => /^node:20[\w.-]*\s+AS\s+\w+$/i.test(s.args)), 'every stage on Node 20, named');
  const lastFrom = steps.lastIndexOf(stages.at(-1)!);
  const runtime = steps.slice(lastFrom);
  const users = runtime.filter((s) => s.op === 'USER').map((s) => s.args);
  assert.ok(users.length > 0 && !['root', '0'].includes(users.at(-1)!), `the runtime stage runs as a non-root user (${users.at(-1)})`);
  assert.ok(runtime.some((s) => s.op === 'COPY' && s.args.startsWith('--from=')), 'the runtime takes the installed modules from a build stage');
  const health = steps.filter((s) => s.op === 'HEALTHCHECK');
  assert.equal(health.length, 1);
  assert.match(health[0]!.args, /\/readyz/);
  assert.match(health[0]!.args, /--interval=\d+s/);
  const cmd = steps.filter((s) => s.op === 'CMD').at(-1)!;
  assert.deepEqual(JSON.parse(cmd.args), ['node', 'packages/server/bin/fonana-realtime.js', 'serve'], 'exec form, so SIGTERM reaches node');
  for (const copy of steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from='))) {
    const sources = copy.args.split(/\s+/).slice(0, -1);
    for (const src of sources) assert.ok(existsSync(new URL(src, ROOT)), `COPY source ${src} exists`);
  }
  assert.ok(existsSync(new URL('packages/server/bin/fonana-realtime.js', ROOT)));
});

test('docker-compose.yml: gateway, PostgreSQL and Redis, healthy before the gateway starts, secrets required', async () => {
  const compose = parseYaml(await read('deploy/docker-compose.yml')) as {
    services: Record<string, { build?: { context: string; dockerfile: string }; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; healthcheck?: { test: string[] }; ports?: string[]; stop_grace_period?: string; image?: string }>;
  };
  assert.deepEqual(Object.keys(compose.services).sort(), ['gateway', 'postgres', 'redis']);
  const { gateway, postgres, redis } = compose.services;
  assert.equal(gateway!.build!.dockerfile, 'deploy/Dockerfile');
  assert.ok(existsSync(new URL(`deploy/${gateway!.build!.context}/${gateway!.build!.dockerfile}`, ROOT)), 'build context and Dockerfile resolve');
  assert.deepEqual(gateway!.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
  assert.ok(postgres!.healthcheck && redis!.healthcheck, 'both dependencies have health checks');
  assert.match(postgres!.image!, /^postgres:\d+/);
  assert.match(redis!.image!, /^redis:\d+/);
  const env = gateway!.environment!;
  for (const secret of ['NEXTAUTH_SECRET', 'REALTIME_API_KEY', 'PAYMENT_WEBHOOK_SECRET']) {
    assert.match(env[secret]!, new RegExp(`^\\$\\{${secret}:\\?`), `${secret} must be given, no default`);
  }
  assert.ok(env.DATABASE_URL!.includes('@postgres:5432/') && env.REDIS_URL === 'redis://redis:6379');
  assert.ok(gateway!.ports!.includes('127.0.0.1:9090:9090'), 'metrics only on the host loopback');
  assert.ok(Number.parseInt(gateway!.stop_grace_period!, 10) * 1000 > Number(env.DRAIN_MS) + 2000, 'stop grace above DRAIN_MS + 2 s');
  // The gateway settings in the file are valid as they are (secrets filled in).
  const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('${') ? 'x'.repeat(40) : v]));
  assert.doesNotThrow(() => loadConfig({ ...filled, DATABASE_URL: 'postgres://realtime:realtime@postgres:5432/realtime' }));
});

test('PM2 ecosystem: one cluster app using the drain, no cron restart, refuses several instances without Redis', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const path = new URL('deploy/ecosystem.config.cjs', ROOT).pathname;
  const load = (env: Record<string, string | undefined>) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
      delete require.cache[path];
      return require(path) as { apps: Record<string, any>[] };
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };
  const { apps } = load({ REDIS_URL: 'redis://127.0.0.1:6379', DRAIN_MS: '10000', WEB_CONCURRENCY: '4' });
  assert.equal(apps.length, 1);
  const app = apps[0]!;
  assert.equal(app.exec_mode, 'cluster');
  assert.equal(app.instances, 4);
  assert.equal(app.args, 'serve');
  assert.equal(app.wait_ready, true);
  assert.ok(app.kill_timeout > 10000 + 2000, 'kill_timeout above DRAIN_MS + 2 s');
  assert.ok(!('cron_restart' in app), 'no cron restart');
  assert.throws(() => load({ REDIS_URL: undefined, WEB_CONCURRENCY: '2' }), /REDIS_URL/);
});

test('the Grafana dashboard charts every gateway metric and is importable JSON', async () => {
  const dashboard = JSON.parse(await read('deploy/grafana-dashboard.json')) as {
    uid: string;
    panels: { id: number; type: string; targets?: { expr: string }[]; gridPos: object }[];
  };
  assert.ok(dashboard.uid);
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
  assert.ok(names.length >= 10);
  for (const name of names) assert.ok(exprs.some((e) => e.includes(name)), `a panel charts ${name}`);
});

test('docs/operations.md lists every setting, every metric and every code; the README lists every setting', async () => {
  const ops = await read('docs/operations.md');
  const readme = await read('README.md');
  for (const name of ENV_NAMES) {
    assert.ok(ops.includes(`\`${name}\``), `docs/operations.md documents ${name}`);
    assert.ok(readme.includes(`\`${name}\``) || name === 'NODE_ENV', `README documents ${name}`);
  }
  for (const metric of (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name)) {
    assert.ok(ops.includes(`\`${metric}\``), `docs/operations.md documents ${metric}`);
  }
  for (const code of Object.keys(Codes)) assert.ok(ops.includes(`\`${code}\``), `docs/operations.md explains ${code}`);
  for (const heading of ['Redis down', 'PostgreSQL down or hung', 'A node killed', 'A deploy', 'A flood from one address']) {
    assert.ok(ops.includes(`**${heading}**`), `runbook: ${heading}`);
  }
  assert.ok(readme.includes('docs/operations.md') && readme.includes('deploy/grafana-dashboard.json'), 'the README links them');
});
