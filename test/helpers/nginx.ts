/**
 * @module A real nginx (Debian's, /usr/sbin/nginx) on loopback in front of test servers: its own
 * prefix, conf, pid and logs in a temp directory, `daemon off;` as a child process we can stop.
 * The WebSocket proxying is the usual recipe (HTTP/1.1, Upgrade/Connection headers), with a
 * deliberately short proxy_read_timeout so that only the server's pings keep a quiet stream alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './child-server.js';

export const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  url: string;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Upstream ports; the ones listed in `backup` take traffic only when the others fail. */
  upstreams: number[];
  backup?: number[];
  readTimeoutS: number;
}

/** Start nginx and wait until it answers. */
export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing (apt-get install nginx)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'nginx-'));
  const port = await freePort();
  const servers = [
    ...opts.upstreams.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`),
    ...(opts.backup ?? []).map((p) => `server 127.0.0.1:${p} backup;`),
  ];
  const conf = `
daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream whisper { ${servers.join(' ')} }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://whisper;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_connect_timeout 2s;
      proxy_read_timeout ${opts.readTimeoutS}s;
      proxy_send_timeout ${opts.readTimeoutS}s;
      proxy_next_upstream error timeout;
      proxy_buffering off;
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => (existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '');
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${out}\n${errorLog()}`);
    // Any HTTP answer (even a 502 with no upstream up yet) means nginx listens.
    if (await fetch(`${url}/livez`).then(() => true, () => false)) break;
    if (i > 100) throw new Error(`nginx did not answer: ${out}\n${errorLog()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    errorLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM'); // fast shutdown: open sockets are closed
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
