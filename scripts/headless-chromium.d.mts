import type { Plugin } from 'vite';

export function findChromium(given?: string): string | undefined;
export function freePort(): Promise<number>;
export function holdLoadEvent(): Plugin;
