import { createContext, useContext } from 'react';
import type { ServerInfo } from '../api/types';

/** What the server runs (GET /api/info), loaded once by the App; undefined until it answered. */
export const InfoContext = createContext<ServerInfo | undefined>(undefined);

export function useInfo(): ServerInfo | undefined {
  return useContext(InfoContext);
}
