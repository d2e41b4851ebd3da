import { Link, Route, Router, Switch, useRoute } from 'wouter';
import { useHashLocation } from 'wouter/use-hash-location';
import { lazy, Suspense, useCallback } from 'react';
import type { ReactNode } from 'react';
import { ErrorMessage } from './components/ErrorMessage';
import { NotEnabled } from './components/NotEnabled';
import { ServicesProvider, useApi, useAsync, useStreamState } from './lib/api-context';
import type { Services } from './lib/api-context';
import { InfoContext } from './lib/info-context';
import { ClusterPage } from './pages/cluster/ClusterPage';
import { ContentPage } from './pages/content/ContentPage';
import { InvalidationsPage } from './pages/invalidations/InvalidationsPage';
import { KeysPage } from './pages/keys/KeysPage';
import { RegionsPage } from './pages/regions/RegionsPage';

// The charts (recharts) are most of the bundle and only the Overview draws them: it loads on its own.
const OverviewPage = lazy(() => import('./pages/overview/OverviewPage').then((m) => ({ default: m.OverviewPage })));

const PAGES = [
  { path: '/', label: 'Overview' },
  { path: '/regions', label: 'Regions' },
  { path: '/content', label: 'Content' },
  { path: '/keys', label: 'Keys' },
  { path: '/invalidations', label: 'Invalidations' },
  { path: '/cluster', label: 'Cluster' },
  { path: '/warming', label: 'Warming' },
  { path: '/audit', label: 'Audit' },
];

function NavLink({ path, children }: { path: string; children: ReactNode }) {
  const [active] = useRoute(path);
  return (
    <Link href={path} className={active ? 'active' : undefined} aria-current={active ? 'page' : undefined}>
      {children}
    </Link>
  );
}

function LiveIndicator() {
  const state = useStreamState();
  const label = state === 'live' ? 'live' : state === 'connecting' ? 'connecting…' : 'reconnecting…';
  return (
    <span className={`live live-${state}`} role="status" aria-label={`Event stream ${label}`}>
      ● {label}
    </span>
  );
}

function Shell() {
  const api = useApi();
  const info = useAsync(useCallback(() => api.info(), [api]));
  const features = info.data?.features;
  // The content page is the demo's: a deployment of one's own tables does not run it.
  const demo = info.data === undefined || info.data.apps.includes('content');
  const pages = demo ? PAGES : PAGES.filter((page) => page.path !== '/content');
  return (
    <InfoContext.Provider value={info.data}>
      <header className="top">
        <a className="brand" href="#/">
          freshcache
        </a>
        <nav aria-label="Pages">
          {pages.map((page) => (
            <NavLink key={page.path} path={page.path}>
              {page.label}
            </NavLink>
          ))}
        </nav>
        <LiveIndicator />
      </header>
      <main>
        <ErrorMessage error={info.error} />
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Switch>
            <Route path="/" component={OverviewPage} />
            <Route path="/regions" component={RegionsPage} />
            <Route path="/content">
              {demo ? (
                <ContentPage />
              ) : (
                <NotEnabled feature="Content" description="The content demo does not run in this deployment: its page reads and edits the demo's articles. Your own keys are on the Keys page." />
              )}
            </Route>
            <Route path="/keys" component={KeysPage} />
            <Route path="/invalidations" component={InvalidationsPage} />
            <Route path="/cluster" component={ClusterPage} />
            <Route path="/warming">
              {features?.warming ? null : (
                <NotEnabled feature="Warming" description="Scheduled, on-demand and predicted cache warming are not built into this server yet." />
              )}
            </Route>
            <Route path="/audit">
              {features?.audit ? null : <NotEnabled feature="Audit" description="The audit trail of admin actions is not built into this server yet." />}
            </Route>
            <Route>
              <NotEnabled feature="Not found" description="No page has this address. Pick one from the menu." />
            </Route>
          </Switch>
        </Suspense>
      </main>
    </InfoContext.Provider>
  );
}

/** The dashboard: a hash router (the server serves one static page), the API and the event stream. */
export function App({ services, hook = useHashLocation }: { services: Services; hook?: Parameters<typeof Router>[0]['hook'] }) {
  return (
    <ServicesProvider services={services}>
      <Router hook={hook}>
        <Shell />
      </Router>
    </ServicesProvider>
  );
}
