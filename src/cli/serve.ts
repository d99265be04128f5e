import type { Logger } from '../core/log.js';
import type { Config } from './config.js';

export async function runServe(_config: Config, _logger: Logger): Promise<void> {
  throw new Error('serve is not available in this version');
}
