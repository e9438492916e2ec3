/** The one Powertools logger. Locally it is quiet unless `TETHER_LOG_LEVEL` says otherwise. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: 'tether',
  logLevel: (process.env.TETHER_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
});
