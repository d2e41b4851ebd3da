import { ApiError } from '../api/client';

/** An error from the API, shown where the user is looking, with the server's code. */
export function ErrorMessage({ error, onDismiss }: { error: Error | undefined; onDismiss?: () => void }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div className="error" role="alert">
      {code && <code className="error-code">{code}</code>} {error.message}
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss error">
          ×
        </button>
      )}
    </div>
  );
}
