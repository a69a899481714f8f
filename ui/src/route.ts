// Screens are addressed by the URL hash, so the current one can be kept and restored. A
// tablet may carry several campaigns: the screens of one campaign's work (village, household,
// keying, parcels) name it, `#/c/<campaign>/village/<id>`; Today, Set-up and Sync show all.
// A screen saved before campaigns were named (`#/village/<id>`) opens in the first campaign.

import { currentCampaign } from './api';

export type Route =
  | { name: 'setup' }
  | { name: 'today' }
  | { name: 'village'; id: string; campaign?: string }
  | { name: 'household'; id: string; campaign?: string }
  | { name: 'key'; id: string; pass: 1 | 2; campaign?: string }
  | { name: 'verify'; id: string; campaign?: string }
  | { name: 'parcels'; campaign?: string }
  | { name: 'sync' };

export function parseRoute(hash: string): Route {
  let parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  let campaign: string | undefined;
  if (parts[0] === 'c' && parts[1]) {
    campaign = parts[1];
    parts = parts.slice(2);
  }
  switch (parts[0]) {
    case 'setup':
      return { name: 'setup' };
    case 'village':
      return parts[1] ? { name: 'village', id: parts[1], campaign } : { name: 'today' };
    case 'household':
      return parts[1] ? { name: 'household', id: parts[1], campaign } : { name: 'today' };
    case 'key':
      return parts[1] ? { name: 'key', id: parts[1], pass: parts[2] === '2' ? 2 : 1, campaign } : { name: 'today' };
    case 'verify':
      return parts[1] ? { name: 'verify', id: parts[1], campaign } : { name: 'today' };
    case 'parcels':
      return { name: 'parcels', campaign };
    case 'sync':
      return { name: 'sync' };
    default:
      return { name: 'today' };
  }
}

/** The hash of a screen; one campaign's screens name the campaign given, or the current one. */
export function href(route: Route): string {
  const inCampaign = (rest: string) => {
    const c = ('campaign' in route && route.campaign) || currentCampaign();
    return `#/c/${encodeURIComponent(c)}/${rest}`;
  };
  switch (route.name) {
    case 'village':
    case 'household':
    case 'verify':
      return inCampaign(`${route.name}/${encodeURIComponent(route.id)}`);
    case 'key':
      return inCampaign(`key/${encodeURIComponent(route.id)}/${route.pass}`);
    case 'parcels':
      return inCampaign('parcels');
    default:
      return `#/${route.name}`;
  }
}

/** The campaign a route belongs to, if it is one campaign's screen. */
export function campaignOf(route: Route): string | undefined {
  return 'campaign' in route ? route.campaign : undefined;
}
