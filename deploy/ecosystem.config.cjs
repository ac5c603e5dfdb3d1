// PM2: one app, a cluster of N gateway processes sharing PORT, fanning out through Redis.
//   REDIS_URL=redis://… DATABASE_URL=postgres://… NEXTAUTH_SECRET=… REALTIME_API_KEY=… \
//     npx pm2 start deploy/ecosystem.config.cjs
//   npx pm2 reload fonana-realtime      # graceful: one process at a time, each new one ready before the old drains
// Settings come from the environment of the `pm2 start` / `pm2 reload` command (PM2 passes it on); the values below
// are read from it too, with defaults. No cron restart: nothing here needs one.
const path = require('node:path');

const drainMs = Number(process.env.DRAIN_MS || 10000);
const instances = Number(process.env.WEB_CONCURRENCY || 2);
if (instances > 1 && !process.env.REDIS_URL) {
  // Without Redis each process would only see the events its own relay publishes.
  throw new Error('deploy/ecosystem.config.cjs: set REDIS_URL to run more than one instance (WEB_CONCURRENCY)');
}

module.exports = {
  apps: [
    {
      name: process.env.PM2_APP_NAME || 'fonana-realtime',
      cwd: path.join(__dirname, '..'),
      script: 'packages/server/bin/fonana-realtime.js',
      args: 'serve',
      exec_mode: 'cluster',
      instances,
      // Each process serves its own metrics listener: 9090, 9091, … (METRICS_PORT is incremented per instance).
      increment_var: 'METRICS_PORT',
      env: {
        NODE_ENV: process.env.NODE_ENV || 'production',
        PORT: process.env.PORT || '3002',
        METRICS_PORT: process.env.METRICS_PORT || '9090',
        DRAIN_MS: String(drainMs),
      },
      // Reload: start the new process, wait for its `ready` message (sent once it listens), then SIGINT the old
      // one, which drains its sockets (1012, spread over DRAIN_MS) and exits. PM2 must not SIGKILL it before then.
      wait_ready: true,
      listen_timeout: 30000,
      kill_timeout: drainMs + 5000,
      autorestart: true,
      max_restarts: 20,
      min_uptime: 5000,
      exp_backoff_restart_delay: 200,
      merge_logs: true,
    },
  ],
};
