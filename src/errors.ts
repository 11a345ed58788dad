// Domain errors say what went wrong in domain terms; the HTTP edge
// (http/errors.ts) maps the kind to a status. Domain code never speaks HTTP.
export type DomainErrorKind = 'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable';

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly kind: DomainErrorKind,
    /** A stable machine-readable code, e.g. "unknown_unit". */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
