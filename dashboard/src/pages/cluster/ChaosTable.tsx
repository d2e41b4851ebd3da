import type { ChaosAction, ChaosService } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';

// Every action stays offered in every state: `up` answers what it did, and the list shows the state after.
const ACTIONS: { action: ChaosAction; label: string; does: string }[] = [
  { action: 'kill', label: 'Kill', does: 'SIGKILL; freshcache up restarts it with backoff' },
  { action: 'restart', label: 'Restart', does: 'a clean stop and an immediate start' },
  { action: 'pause', label: 'Pause', does: 'SIGSTOP; it answers nothing until resumed' },
  { action: 'resume', label: 'Resume', does: 'SIGCONT' },
];

/** The processes of a `freshcache up` deployment, each with kill / restart / pause / resume. */
export function ChaosTable({ services, onAction }: { services: readonly ChaosService[]; onAction: (action: ChaosAction, target: string) => void }) {
  return (
    <div className="table-wrap cluster-table">
      <table className="cluster-nodes">
        <caption className="visually-hidden">Processes of this deployment</caption>
        <thead>
          <tr>
            <th scope="col">Process</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              PID
            </th>
            <th scope="col" className="num">
              Restarts
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {services.map((service) => (
            <tr key={service.name}>
              <th scope="row">
                <code>{service.name}</code>
              </th>
              <td>
                <span className={`badge chaos-state ${service.state}`}>{service.state}</span>
              </td>
              <td className="num">{service.pid ?? '—'}</td>
              <td className="num">{service.restarts}</td>
              <td>
                <div className="row chaos-actions">
                  {ACTIONS.map(({ action, label, does }) => (
                    <ConfirmButton
                      key={action}
                      label={`${label} ${service.name}`}
                      question={
                        <>
                          {label} <code>{service.name}</code>? ({does})
                        </>
                      }
                      confirmLabel={`${label} ${service.name}`}
                      onConfirm={() => onAction(action, service.name)}
                    >
                      {label}
                    </ConfirmButton>
                  ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
