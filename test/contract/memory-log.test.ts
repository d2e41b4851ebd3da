import { MemoryLog } from '../../src/adapters/memory/memory-log.js';
import { invalidationLogContract } from './invalidation-log-contract.js';

invalidationLogContract('MemoryLog', async ({ retain }) => new MemoryLog({ retain }));
