/**
 * FNV-1a, 32 bits: a short, stable name for a path (the lock's socket, a code cache file).
 * node:crypto would cost the cron path ~3 ms to load; nothing here needs a cryptographic hash.
 */
export const FNV_OFFSET_BASIS = 0x811c9dc5;

export function fnv1a(text: string, basis = FNV_OFFSET_BASIS): number {
  let hash = basis;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  }
  return hash;
}

/** `hash` as eight hex digits. */
export function hex8(hash: number): string {
  return hash.toString(16).padStart(8, '0');
}
