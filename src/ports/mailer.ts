/** Port: sends one e-mail. Adapters: SES v2 (AWS, and the local SES emulator over the same wire). */

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** Resolves once the mail service accepted the message; throws when it did not. */
  send(message: MailMessage): Promise<void>;
}
