export function InvalidationsPage() {
  return <h1>Invalidations</h1>;
}
