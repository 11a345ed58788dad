import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs; pretty when stdout is a terminal. Secrets and respondent ids are
 * redacted by path. `destination` receives the lines instead of stdout (tests).
 */
export function createLogger(level: string, pretty = process.stdout.isTTY === true, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: {
      paths: ['*.token', '*.secret', '*.password', '*.apiKey', '*.authorization', 'req.headers.authorization', '*.phone'],
      censor: '[redacted]',
    },
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
