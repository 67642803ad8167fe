/** Exit code 4: the user has to sign in (again); the message says how. */
export class LoginError extends Error {
  readonly exitCode = 4;
  constructor(message: string) {
    super(message);
    this.name = 'LoginError';
  }
}
