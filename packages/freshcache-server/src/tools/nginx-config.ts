import { join } from 'node:path';

export interface NginxRegion {
  name: string;
  /** Where nginx listens for this region. */
  port: number;
  /** The region's nodes' ports on 127.0.0.1. */
  nodePorts: number[];
}

export interface NginxConfigOptions {
  /** nginx's own folder: pid, logs and temp files (up's temp folder). */
  dir: string;
  regions: NginxRegion[];
  /** As root, nginx's workers would switch to `nobody`, who cannot read up's folder: keep root. */
  asRoot: boolean;
}

/**
 * One server block per region in front of its nodes, as users deploy freshcache: round-robin,
 * a failed or refused read tried on the next node (GET is idempotent; nginx never retries a
 * write), a node that failed set aside for a while (passive health checks), the event stream
 * unbuffered, and the client's address passed on in X-Forwarded-For.
 */
export function nginxConfig({ dir, regions, asRoot }: NginxConfigOptions): string {
  const proxy = `
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 1s;`;
  const blocks = regions.map(
    (region) => `
  upstream ${region.name} {
${region.nodePorts.map((port) => `    server 127.0.0.1:${port} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${region.port};
    location / {
      proxy_pass http://${region.name};${proxy}
    }
    # Server-sent events: each one reaches the browser as it is sent. Buffered over HTTP/1.0 (nginx's
    # default), nothing, not even the headers, would pass until kilobytes piled up.
    location /api/events {
      proxy_pass http://${region.name};${proxy}
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
    }
  }`,
  );
  return `# Written by freshcache up; deleted when it stops.
${asRoot ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${quote(dir, 'nginx.pid')};
error_log ${quote(dir, 'nginx-error.log')} warn;
events {
  worker_connections 1024;
}
http {
  access_log ${quote(dir, 'nginx-access.log')};
  client_body_temp_path ${quote(dir, 'nginx-body')};
  proxy_temp_path ${quote(dir, 'nginx-proxy')};
  fastcgi_temp_path ${quote(dir, 'nginx-fastcgi')};
  uwsgi_temp_path ${quote(dir, 'nginx-uwsgi')};
  scgi_temp_path ${quote(dir, 'nginx-scgi')};
${blocks.join('\n')}
}
`;
}

/** A path as an nginx string: quoted, so that a space in TMPDIR does not split it. */
function quote(dir: string, file: string): string {
  return `"${join(dir, file).replace(/["\\$]/g, (c) => `\\${c}`)}"`;
}
