import { useId, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { flushSync } from 'react-dom';

/**
 * A button whose action runs only after a confirmation dialog (a modal alertdialog: Tab stays
 * in it, Escape or Cancel closes it, and the focus returns to the button). Disabled, it says why next to it.
 */
export function ConfirmButton({
  children,
  label,
  question,
  confirmLabel,
  onConfirm,
  disabledReason,
  className = 'danger',
}: {
  children: ReactNode;
  /** The button's accessible name, when its text alone is ambiguous in a table ("Drain us-east-1"). */
  label?: string;
  question: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  /** Set: the button is disabled, and this says why. */
  disabledReason?: string;
  className?: string;
}) {
  const [open, setOpen] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const questionId = useId();
  const reasonId = useId();

  function close() {
    flushSync(() => setOpen(false));
    trigger.current?.focus();
  }

  return (
    <>
      <button
        ref={trigger}
        type="button"
        className={className}
        aria-label={label}
        disabled={disabledReason !== undefined}
        aria-describedby={disabledReason !== undefined ? reasonId : undefined}
        onClick={() => setOpen(true)}
      >
        {children}
      </button>
      {disabledReason !== undefined && (
        <span id={reasonId} className="muted disabled-reason">
          {disabledReason}
        </span>
      )}
      {open && (
        <div className="confirm-backdrop">
          <div
            className="confirm-dialog panel"
            role="alertdialog"
            aria-modal="true"
            aria-labelledby={questionId}
            onKeyDown={(event) => {
              if (event.key === 'Escape') close();
              // Modal: Tab cycles between its two buttons instead of leaving for the page behind.
              if (event.key === 'Tab') {
                event.preventDefault();
                (document.activeElement === cancel.current ? confirm.current : cancel.current)?.focus();
              }
            }}
          >
            <p id={questionId}>{question}</p>
            <div className="row">
              {/* The focus starts on Cancel: a stray Enter must not kill or drain anything. */}
              <button ref={cancel} type="button" autoFocus onClick={close}>
                Cancel
              </button>
              <button
                ref={confirm}
                type="button"
                className={className}
                onClick={() => {
                  close();
                  onConfirm();
                }}
              >
                {confirmLabel}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
