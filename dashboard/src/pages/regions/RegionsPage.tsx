export function RegionsPage() {
  return <h1>Regions</h1>;
}
