package local;

import java.util.Map;
import org.apache.solr.core.CoreContainer;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

/**
 * Starts a real Solr 9 HTTP server (Jetty) on 127.0.0.1 from a Solr home folder.
 * JettySolrRunner swallows core start-up failures, so we check them ourselves and
 * exit non-zero naming the core and the cause: a broken core must fail at once, not hang.
 *
 * Usage: java -cp 'classes:lib/*' local.SolrLauncher SOLR_HOME PORT CORE[,CORE...]
 */
public final class SolrLauncher {
  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: SolrLauncher SOLR_HOME PORT CORE[,CORE...]");
      System.exit(2);
    }
    String solrHome = args[0];
    int port = Integer.parseInt(args[1]);
    String[] expected = args[2].split(",");
    JettySolrRunner solr =
        new JettySolrRunner(solrHome, JettyConfig.builder().setPort(port).stopAtShutdown(true).build());
    solr.start();
    CoreContainer cores = solr.getCoreContainer();
    Map<String, CoreContainer.CoreLoadFailure> failures = cores.getCoreInitFailures();
    boolean broken = !failures.isEmpty();
    for (Map.Entry<String, CoreContainer.CoreLoadFailure> f : failures.entrySet()) {
      Throwable cause = f.getValue().exception;
      while (cause.getCause() != null) cause = cause.getCause();
      System.err.println("SOLR CORE FAILED: " + f.getKey() + ": " + cause.getMessage());
    }
    for (String name : expected) {
      if (!cores.getLoadedCoreNames().contains(name) && !failures.containsKey(name)) {
        System.err.println("SOLR CORE MISSING: " + name + " (no " + name + "/core.properties under " + solrHome + ")");
        broken = true;
      }
    }
    if (broken) {
      solr.stop();
      System.exit(1);
    }
    System.out.println("SOLR READY on http://127.0.0.1:" + port + "/solr cores=" + cores.getLoadedCoreNames());
    Thread.currentThread().join();
  }
}
