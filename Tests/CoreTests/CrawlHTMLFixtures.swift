/// Hand-written pages for the crawl tests: each mimics the markup of one kind of site.
enum CrawlHTMLFixtures {
    /// A blog post with navigation, cookie banner, sidebar, share bar, comments and footer around the article.
    static let blog = """
        <!DOCTYPE html>
        <html lang="en-GB"><head><meta charset="utf-8">
        <title>Understanding Vector Databases | Tech Notes</title>
        <meta property="og:title" content="Understanding Vector Databases">
        <meta name="description" content="How vector search works and when to use it.">
        <meta name="author" content="Ada Lovelace">
        <meta property="article:published_time" content="2024-03-05T10:00:00Z">
        <link rel="canonical" href="/posts/vector-databases">
        <style>.x { color: red }</style><script>var tracking = "SHOULD NOT APPEAR";</script>
        </head><body>
        <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
        <header class="site-header"><nav><a href="/">Home</a> <a href="/about">About</a> <a href="/blog">Blog</a></nav></header>
        <div class="layout">
        <main><article>
        <h1>Understanding Vector Databases</h1>
        <div class="entry-content">
        <p>Vector databases store embeddings, which are dense numeric representations of text, images or audio,
        and answer nearest-neighbour queries over them quickly, even with millions of rows.</p>
        <h2>Why not a normal index?</h2>
        <p>A B-tree orders scalar keys, but similarity between embeddings is measured by cosine distance,
        which has no natural total order, so specialised structures such as HNSW graphs are used instead.</p>
        <ul><li>HNSW graphs trade memory for speed.</li><li>IVF indexes cluster vectors into buckets.</li></ul>
        <pre><code>let results = try index.search(query, k: 10)
        for hit in results {
            print(hit.id, hit.score)
        }</code></pre>
        <p>Choosing between them depends on recall targets, memory budgets and how often the data changes over time.</p>
        </div>
        <div class="share-bar"><a href="#">Share on X</a> <a href="#">Share on LinkedIn</a></div>
        </article></main>
        <aside class="sidebar"><h3>Popular posts</h3><ul><li><a href="/a">Ten tips for Swift</a></li><li><a href="/b">Why Redis</a></li></ul></aside>
        </div>
        <div id="comments" class="comments-area"><p>Great post, thanks a lot for writing this, it helped me, really!</p></div>
        <footer class="site-footer"><p>Copyright 2024 Tech Notes. All rights reserved. Privacy policy, terms and conditions.</p></footer>
        </body></html>
        """

    /// A Medium story page (simplified markup of medium.com).
    static let medium = """
        <html lang="en"><head><title>Building an LLM Twin | by Paul Iusztin | Medium</title>
        <meta property="og:title" content="Building an LLM Twin">
        <meta property="og:description" content="An end-to-end framework for production-ready LLM systems.">
        <meta name="author" content="Paul Iusztin">
        <meta property="article:published_time" content="2024-03-10T08:00:00.000Z">
        <meta property="al:android:package" content="com.medium.reader">
        </head><body>
        <div><a href="/">Medium</a><a href="/m/signin">Sign in</a><a href="/new-story">Write</a></div>
        <article><div class="ab"><section>
        <h1 class="pw-post-title">Building an LLM Twin</h1>
        <div class="speechify-ignore"><a href="/@pauliusztin">Paul Iusztin</a><button>Follow</button><span>12 min read</span></div>
        <p class="pw-post-body-paragraph">An LLM twin is an AI character that writes like yourself by incorporating your style, personality and voice into an LLM.</p>
        <p class="pw-post-body-paragraph">In this lesson we design the architecture of the system, which is split into four pipelines that talk through a queue.</p>
        <pre class="pw-post-body-paragraph">python -m pip install llm-twin</pre>
        </section></div></article>
        <footer><p>Help Status About Careers Blog Privacy Terms Text to speech</p></footer>
        </body></html>
        """

    /// A Substack post page (simplified markup of substack.com).
    static let substack = """
        <html><head><title>Decoding ML Weekly</title>
        <meta property="og:title" content="Decoding ML Weekly">
        <meta name="author" content="Decoding ML">
        <meta property="og:image" content="https://substackcdn.com/image/fetch/x.png">
        </head><body>
        <div class="topbar"><a href="/">Decoding ML</a><a href="/subscribe">Subscribe</a></div>
        <div class="post"><h1 class="post-title">Decoding ML Weekly</h1><h3 class="subtitle">Fine-tuning in practice</h3>
        <div class="available-content"><div class="body markup">
        <p>This week we fine-tune a small model on our own articles using LoRA adapters on a single GPU.</p>
        <p>The training loop is short, but evaluating the result honestly takes most of the effort, as usual.</p>
        </div></div>
        <div class="subscription-widget"><p>Subscribe to get new posts every week straight into your inbox.</p></div>
        </div></body></html>
        """

    /// A LinkedIn public post page (simplified markup of linkedin.com/posts/…).
    static let linkedIn = """
        <html lang="en"><head><title>Paul Iusztin on LinkedIn: RAG is not dead</title>
        <meta property="og:title" content="Paul Iusztin on LinkedIn: RAG is not dead">
        </head><body>
        <nav><a href="/feed">Home</a><a href="/jobs">Jobs</a></nav>
        <main><section class="core-rail">
        <div class="feed-shared-update-v2">
        <a class="actor-name" data-tracking-control-name="public_post_feed-actor-name">Paul Iusztin</a>
        <p class="attributed-text-segment-list__content">RAG is not dead. Long context windows help, but retrieval still
        wins on cost, latency and freshness for most production systems I have built.</p>
        <div class="social-details"><span>1,204 reactions</span><span>87 comments</span></div>
        </div></section>
        <section class="right-rail"><h2>More from this author</h2><a href="/p/1">Another post about agents</a></section>
        </main></body></html>
        """

    /// Broken markup: unclosed tags, stray end tags, bad nesting, an unterminated comment and attribute.
    static let malformed = """
        <html><head><title>Broken <b>page</title></head><body><div><p>First paragraph is here and it has quite
        a lot of words so that the scorer will pick it up as content, with commas, too, many, of them.
        <p>Second paragraph <b><i>bold italic</b></i> continues the text with more words and, commas, here.</div></span>
        <table><tr><td>cell one<td>cell two</table></table><div class="x id="y">attr</div><!-- unterminated
        """
}
