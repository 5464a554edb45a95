// Every `runbook lab` failure is a LabError. The code lets callers (the CLI,
// test helpers) react to one kind of failure, e.g. pick another subnet when
// the one they chose is taken, without matching on message text.

import { RunbookError, type ErrorDetails } from '../errors.js';

export type LabErrorCode =
  | 'not-root'
  | 'missing-tools'
  | 'bad-input'
  | 'subnet-in-use'
  | 'name-clash'
  | 'busy'
  | 'host-failed'
  | 'command-failed'
  | 'state-corrupt'
  | 'unknown-product'
  | 'not-built'
  | 'package-failed';

export class LabError extends RunbookError {
  readonly code: LabErrorCode;
  // Bad arguments exit 2 like InputError, so scripts can tell "you asked for
  // something impossible" from "the machine could not do it".
  override readonly exitCode: number;

  constructor(code: LabErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.code = code;
    this.exitCode = code === 'bad-input' || code === 'unknown-product' ? 2 : 1;
  }
}
