/** The page of a feature this server does not run (yet): says so, and where it is documented. */
export function NotEnabled({ feature, description }: { feature: string; description: string }) {
  return (
    <div className="not-enabled" role="status">
      <h1>{feature}</h1>
      <p>
        <strong>Not enabled</strong> on this server.
      </p>
      <p>{description}</p>
    </div>
  );
}
