// The reporting services the HTTP edge reads from, wired once in app.ts.
import type { Alerts } from './alerts.js';
import type { Reports } from './forms.js';
import type { Progress } from './progress.js';

export interface Reporting {
  reports: Reports;
  progress: Progress;
  alerts: Alerts;
}
