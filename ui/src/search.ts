// Finding a household as people type: without diacritics ("thao" finds "Thảo", "dung" finds
// "Dũng"), by name, address or serial. Pure: tested without a DOM.

/** Lower case, without Vietnamese diacritics (đ counts as d). */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase();
}

/** Whether every word typed is found in the household's name, address or serial. */
export function matches(x: { name: string; address: string; serial: string }, typed: string): boolean {
  const haystack = fold(`${x.name} ${x.address} ${x.serial}`);
  return fold(typed)
    .split(/\s+/)
    .filter((w) => w !== '')
    .every((w) => haystack.includes(w));
}
