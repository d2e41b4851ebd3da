import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { defaultServices } from './lib/api-context';
import './styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App services={defaultServices()} />
  </StrictMode>,
);
