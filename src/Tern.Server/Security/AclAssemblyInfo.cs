using System.Runtime.CompilerServices;

// The ACL engine is internal (the broker sees it as IMqttAuthorizer); its rule tables are tested directly.
[assembly: InternalsVisibleTo("Tern.Broker.Tests")]
