/**
 * Where the page's static files are: `static/` next to this module (src/http/ui/static when run
 * from the sources; dist/http/ui/static once `npm run build` copied them), else the sources'
 * copy seen from dist (../../../src/http/ui/static). Files are read once and kept in memory.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CANDIDATES = [join(here, 'static'), join(here, '..', '..', '..', 'src', 'http', 'ui', 'static')];

let dir: string | null = null;

export function staticDir(): string {
  if (dir) return dir;
  const found = CANDIDATES.find((d) => existsSync(join(d, 'queue-migration.js')));
  if (!found) throw new Error(`the queue migration page's files are missing (looked in ${CANDIDATES.join(', ')})`);
  dir = found;
  return dir;
}

const cache = new Map<string, Promise<Buffer>>();

/** A file under the static directory (relative path without `..`). */
export function readStaticFile(relative: string): Promise<Buffer> {
  const root = staticDir();
  const full = normalize(join(root, relative));
  if (!full.startsWith(root + sep)) return Promise.reject(new Error(`bad static path ${relative}`));
  let p = cache.get(full);
  if (!p) {
    p = readFile(full);
    p.catch(() => cache.delete(full));
    cache.set(full, p);
  }
  return p;
}
