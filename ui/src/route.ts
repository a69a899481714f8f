// Screens are addressed by the URL hash, so the current one can be kept and restored.

export type Route =
  | { name: 'setup' }
  | { name: 'today' }
  | { name: 'village'; id: string }
  | { name: 'household'; id: string }
  | { name: 'key'; id: string; pass: 1 | 2 }
  | { name: 'verify'; id: string }
  | { name: 'parcels' }
  | { name: 'sync' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (parts[0]) {
    case 'setup':
      return { name: 'setup' };
    case 'village':
      return parts[1] ? { name: 'village', id: parts[1] } : { name: 'today' };
    case 'household':
      return parts[1] ? { name: 'household', id: parts[1] } : { name: 'today' };
    case 'key':
      return parts[1] ? { name: 'key', id: parts[1], pass: parts[2] === '2' ? 2 : 1 } : { name: 'today' };
    case 'verify':
      return parts[1] ? { name: 'verify', id: parts[1] } : { name: 'today' };
    case 'parcels':
      return { name: 'parcels' };
    case 'sync':
      return { name: 'sync' };
    default:
      return { name: 'today' };
  }
}

export function href(route: Route): string {
  switch (route.name) {
    case 'village':
    case 'household':
    case 'verify':
      return `#/${route.name}/${encodeURIComponent(route.id)}`;
    case 'key':
      return `#/key/${encodeURIComponent(route.id)}/${route.pass}`;
    default:
      return `#/${route.name}`;
  }
}
